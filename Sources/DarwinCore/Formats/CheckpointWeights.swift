import Foundation

/// The weights of a Hugging Face checkpoint directory: `model.safetensors`, or shards listed in
/// `model.safetensors.index.json`. Files are opened lazily and memory-mapped.
public final class CheckpointWeights {
    /// The checkpoint directory.
    public let directory: String
    /// Which file holds each tensor name.
    public let fileOfTensor: [String: String]
    private var opened: [String: SafeTensorsFile] = [:]

    /// Finds the weight files of `directory`.
    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        let index = directory + "/model.safetensors.index.json"
        if fm.fileExists(atPath: index) {
            guard let data = fm.contents(atPath: index),
                  let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let map = json["weight_map"] as? [String: String] else {
                throw FormatError(file: index, "expected a JSON object with a 'weight_map' of tensor name to file name")
            }
            for file in Set(map.values) where !fm.fileExists(atPath: directory + "/" + file) {
                throw FormatError(file: index, "weight_map names shard '\(file)', which is missing from \(directory)")
            }
            fileOfTensor = map.mapValues { directory + "/" + $0 }
        } else if fm.fileExists(atPath: directory + "/model.safetensors") {
            let file = try SafeTensorsFile(path: directory + "/model.safetensors")
            opened[file.path] = file
            fileOfTensor = Dictionary(uniqueKeysWithValues: file.entries.keys.map { ($0, file.path) })
        } else {
            throw FormatError(file: directory, "no model.safetensors or model.safetensors.index.json found")
        }
    }

    /// True if the checkpoint has a tensor called `name`.
    public func contains(_ name: String) -> Bool { fileOfTensor[name] != nil }

    /// The writer precision matching how `name` is stored (float64 maps to float32).
    public func storagePrecision(of name: String) throws -> SafeTensorsWriter.Precision {
        guard let path = fileOfTensor[name] else { throw FormatError(file: directory, "checkpoint has no tensor '\(name)'") }
        let file = try opened[path] ?? SafeTensorsFile(path: path)
        opened[path] = file
        switch file.entries[name]?.dtype {
        case .bf16: return .bf16
        case .f16: return .f16
        default: return .f32
        }
    }

    /// The tensor `name` as float32, checked against `shape` when given.
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        let file = try self.file(holding: name, shape: shape)
        return try file.tensor(name)
    }

    /// The 2-d tensor `name` checked against `shape`, as a model weight: 16-bit as stored when `keepHalf` and the
    /// checkpoint stores it as bf16/f16, else float32.
    public func weight(_ name: String, shape: [Int], keepHalf: Bool) throws -> Weight {
        let file = try self.file(holding: name, shape: shape)
        return keepHalf ? try file.weight(name) : Weight(try file.tensor(name))
    }

    /// The opened file holding `name`, whose shape is checked against `shape` when given.
    private func file(holding name: String, shape: [Int]?) throws -> SafeTensorsFile {
        guard let path = fileOfTensor[name] else { throw FormatError(file: directory, "checkpoint has no tensor '\(name)'") }
        let file = try opened[path] ?? SafeTensorsFile(path: path)
        opened[path] = file
        guard let entry = file.entries[name] else {
            throw FormatError(file: path, "tensor '\(name)' is listed in the index but missing from this shard")
        }
        if let shape, entry.shape != shape {
            throw FormatError(file: path, "tensor '\(name)' has shape \(TensorError.show(entry.shape)), the config implies \(TensorError.show(shape))")
        }
        return file
    }
}
