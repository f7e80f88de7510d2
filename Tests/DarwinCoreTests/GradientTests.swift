import Foundation
import Testing
@testable import DarwinCore

@Suite("training: gradients match transformers")
struct GradientTests {
    @Test("loss and every parameter's gradient match transformers' backward", arguments: Fixtures.families)
    func gradients(family: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(family))
        let ref = try Fixtures.reference(family)
        let (ids, batch) = try Fixtures.inputIds(ref)
        let (loss, grads) = try model.lossAndGradients(tokens: ids, batch: batch)
        let expectedLoss = Double(try ref.tensor("loss").item())
        #expect(Swift.abs(loss - expectedLoss) < 1e-5 * expectedLoss)
        var worst = 0.0
        for (name, parameter) in model.namedParameters {
            guard let g = grads[parameter] else { Issue.record("\(family): no gradient for \(name)"); continue }
            let err = relativeError(g, try ref.tensor("grad." + name))
            worst = max(worst, err)
            #expect(err < 1e-4, "\(family) \(name): \(err)")
        }
        #expect(grads.count == model.namedParameters.count)
        print("\(family): \(grads.count) gradients, worst relative error \(worst)")
    }
}
