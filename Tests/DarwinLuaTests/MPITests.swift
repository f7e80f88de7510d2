import Foundation
import Testing

/// `mpirun -np N darwinhost`: darwin.mpi's collectives, and a DarwinLM search whose database blocks and candidates
/// are spread over the ranks giving exactly the single process's database, log and chosen levels, and its
/// post-trained model up to float summation order (data-parallel training), also when a failed job is resumed with
/// another process count. Skipped where the build has no MPI or `mpirun` does not run here.
@Suite("MPI jobs")
struct MPITests {
    static let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    /// MPI in this build, and a 2-rank job that runs on this machine.
    static let available: Bool = {
        guard mpirun != nil, let (status, out, _) = try? TestSupport.runExecutable(["-e", "io.write(tostring(darwin.mpi.compiled()))"]),
              status == 0, out == "true" else { return false }
        let job = try? run(2, ["-e", "io.write(darwin.mpi.size())"], environment: ["DARWIN_MPI_ALL_OUTPUT": "1"], in: FileManager.default.temporaryDirectory)
        return job?.0 == 0 && job?.1 == "22"
    }()
    /// mpirun's settings for tests: root allowed (containers), more ranks than cores.
    static let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"]

    /// A script: the largest weight difference between models `arg[1]` and `arg[2]`, as a fraction of the largest
    /// change from `arg[3]` (the weights before training) to `arg[2]`.
    static let weightDifference = """
            local a, b, before = darwin.load(arg[1]), darwin.load(arg[2]), darwin.load(arg[3])
            local difference, update = 0, 0
            for _, name in ipairs(a:parameter_names()) do
              local x, y, w = a:parameter(name), b:parameter(name), before:parameter(name)
              difference, update = math.max(difference, (x - y):abs():max()), math.max(update, (y - w):abs():max())
            end
            io.write(difference / update)
        """

    /// Runs darwinhost under `mpirun -np ranks` (or alone when ranks is nil); a job that hangs is killed after 300 s
    /// and fails.
    static func run(_ ranks: Int?, _ arguments: [String], environment extra: [String: String] = [:], in dir: URL) throws -> (Int32, String, String) {
        let binary = TestSupport.builtProduct("darwinhost").path
        let process = Process()
        process.currentDirectoryURL = dir
        process.executableURL = URL(fileURLWithPath: ranks == nil ? binary : mpirun!)
        process.arguments = (ranks.map { ["--oversubscribe", "-np", String($0), binary] } ?? []) + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment.merging(extra) { $1 }) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 300, execute: watchdog)
        let (o, e) = TestSupport.readToEnd(out, err)
        process.waitUntilExit()
        watchdog.cancel()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test("without mpirun (or without MPI in the build) a process is rank 0 of 1 and the collectives are its own values")
    func singleProcess() throws {
        let script = "local m = darwin.mpi; local t = m.allreduce(tensor{1, 2}); io.write(m.rank(), m.size(), m.broadcast('a'), #m.allgather('b'), m.allgather('b')[1], t:sum(), tostring(m.active()))"
        let (status, out, err) = try TestSupport.runExecutable(["-e", script])
        #expect(status == 0 && out == "01a1b3false", "\(out) \(err)")
        let (s2, _, e2) = try TestSupport.runExecutable(["-e", "darwin.mpi.broadcast('x', 1)"])
        #expect(s2 == 1 && e2.contains("root must be in 0..0, got 1"), "\(e2)")
    }

    @Test("rank, size, broadcast and allgather of strings and tensors, allreduce and barrier on 3 ranks", .enabled(if: available))
    func collectives() throws {
        let script = """
            local m = darwin.mpi
            local r = m.rank()
            local got = m.broadcast(r == 1 and "from 1" or nil, 1)
            local all = m.allgather(string.rep("x", r) .. r)
            local t = tensor.ones(4) * (r + 1)
            m.allreduce(t)
            m.barrier()
            local shared = r == 2 and tensor{{1, 2}, {3, 4}} or tensor.zeros(2, 2)
            m.broadcast(shared, 2)
            local parts = m.allgather(tensor.ones(r + 1) * r)
            -- Rank 0 passes a string where the others pass tensors: an error on those, not a read past its bytes.
            local ok, mixed = pcall(m.allgather, r == 0 and "abc" or tensor{1})
            local verdict = r == 0 and tostring(ok) or tostring(mixed):match("rank 0 did not pass a tensor") or tostring(mixed)
            print(string.format("rank %d/%d %s %s %g %g %d %g %s", r, m.size(), got, table.concat(all, ","), t:sum(), shared:get(2, 1), parts[3]:size(1), parts[3]:sum(), verdict))
            """
        let dir = FileManager.default.temporaryDirectory
        let (status, out, err) = try Self.run(3, ["-e", script], environment: ["DARWIN_MPI_ALL_OUTPUT": "1"], in: dir)
        #expect(status == 0, "\(err)")
        let lines = out.split(separator: "\n").map(String.init).filter { $0.hasPrefix("rank ") }.sorted()
        #expect(lines == (0..<3).map { "rank \($0)/3 from 1 0,x1,xx2 24 3 3 6 \($0 == 0 ? "true" : "rank 0 did not pass a tensor")" }, "\(out)")
        // An error on one rank ends the whole job with its message, not a hang.
        let (s2, _, e2) = try Self.run(2, ["-e", "if darwin.mpi.rank() == 1 then error('boom on rank 1') end; darwin.mpi.barrier()"], in: dir)
        #expect(s2 != 0 && e2.contains("boom on rank 1"), "\(e2)")
        // A script that runs in one process says so instead of building and writing the same files twice.
        let (s3, _, e3) = try Self.run(2, [TestSupport.repoRoot.appendingPathComponent("scripts/compare.lua").path, "--help"], in: dir)
        #expect(s3 != 0 && e3.contains("scripts/compare.lua runs in one process, not on 2 MPI ranks"), "\(e3)")
    }

    @Test("data-parallel training (finetune.rows_distributed) on 2 and 3 ranks equals one process's (SGD), to float rounding", .enabled(if: available))
    func dataParallel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-dp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 7 rows in batches of 3: the last batch has one row, so one rank trains on a row that counts for nothing.
        let script = """
            local finetune = require("finetune")
            local model = darwin.load(arg[1])
            darwin.set_threads(1)
            local tokens = {}
            for i = 1, 600 do tokens[i] = (i * 37) % 80 end
            local ids = darwin.data.sequences(tensor(tokens), nil, {seqlen = 8, count = 7, seed = 3})
            finetune.rows_distributed(model, ids, 3, {optimizer = "sgd", lr = 0.05}):close()
            if darwin.mpi.rank() == 0 then model:save(arg[2]) end
            """
        let model = TestSupport.repoRoot.appendingPathComponent("Tests/Fixtures/models/llama_gqa_tied").path
        for (name, ranks) in [("one", nil), ("two", 2), ("three", 3)] as [(String, Int?)] {
            let (status, _, err) = try Self.run(ranks, ["-e", script, "-", model, dir.appendingPathComponent(name).path], in: dir)
            #expect(status == 0, "\(name): \(err)")
        }
        for run in ["two", "three"] {
            let (status, out, err) = try TestSupport.runExecutable(["-e", Self.weightDifference, "-", dir.appendingPathComponent(run).path,
                                                                    dir.appendingPathComponent("one").path, model])
            #expect(status == 0 && (Double(out) ?? 1) < 1e-5, "\(run): \(out) of the update \(err)")
        }
    }

    static let sharedModel = TestSupport.repoRoot.appendingPathComponent("../shared/models/darwin-pycode-16m").standardized.path

    @Test("a DarwinLM search of the quickstart model on 2 and 3 ranks equals the single process; a killed job resumes on another count", .enabled(if: available))
    func search() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // The quickstart model (a few training steps are enough: the comparison is between process counts).
        let quickstart = dir.appendingPathComponent("qs").path
        let (qs, _, qe) = try TestSupport.runExecutable([TestSupport.repoRoot.appendingPathComponent("scripts/quickstart.lua").path, "--steps", "60",
                                                         "--generations", "0", "--post-train-steps", "0", "--save", quickstart])
        #expect(qs == 0, "\(qe)")
        try Self.checkSearch(in: dir, inputs: ["--model", quickstart + "/model", "--data", quickstart + "/train.bin", "--seqlen", "32",
                                               "--offspring", "3", "--fitness-tokens", "64", "--train-tokens", "64", "--level", "2"])
    }

    @Test("on 2 and 3 ranks on darwin-pycode-16m: the same database, generation and model (skipped without ../shared)",
          .enabled(if: available && FileManager.default.fileExists(atPath: sharedModel + "/config.json")))
    func searchSharedModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-mpi-16m-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.checkSearch(in: dir, inputs: ["--model", Self.sharedModel, "--data", Self.sharedModel + "/data/calib.txt.gz", "--seqlen", "64",
                                               "--offspring", "2", "--fitness-tokens", "128", "--train-tokens", "64", "--level", "1"],
                             generations: 1, postTrain: 0, full: false)
    }

    /// darwinlm.lua with `inputs` alone, on 2 and on 3 ranks, and (`full`) killed on 2 ranks in generation 2 then
    /// resumed on 3: the same database, log and chosen levels, and the same model file (`postTrain` 0) or post-trained
    /// weights within data parallelism's rounding.
    static func checkSearch(in dir: URL, inputs: [String], generations: Int = 3, postTrain: Int = 64, full: Bool = true) throws {
        // A fitness that kills rank 1 (SIGKILL, from the process itself) after a few candidates when told to: a rank
        // lost in the middle of a search.
        try """
            local fitness = require("fitness")
            local calls = 0
            return function(model, batch)
              calls = calls + 1
              if os.getenv("FAIL_AFTER") and darwin.mpi.rank() == 1 and calls > tonumber(os.getenv("FAIL_AFTER")) then
                local stat = assert(io.open("/proc/self/stat"))
                local pid = stat:read("n"); stat:close()
                os.execute("kill -9 " .. math.tointeger(pid))
              end
              return fitness.kl(model, batch)
            end
            """.write(to: dir.appendingPathComponent("flaky.lua"), atomically: true, encoding: .utf8)
        let script = TestSupport.repoRoot.appendingPathComponent("scripts/darwinlm.lua").path
        let settings = [script] + inputs + ["--calibration-sequences", "4", "--stages", "2", "--eval-sequences", "2", "--levels", "4",
                                            "--generations", String(generations), "--threads", "1", "--fitness", dir.appendingPathComponent("flaky.lua").path]
        let common = settings + ["--post-train-tokens", String(postTrain)]
        func output(_ name: String) -> [String] { ["--output", dir.appendingPathComponent(name).path] }
        let jobs: [(String, Int?)] = [("one", nil), ("two", 2), ("three", 3)]
        for (name, ranks) in jobs {
            let (status, _, err) = try run(ranks, common + output(name), in: dir)
            #expect(status == 0, "\(name): \(err)")
        }
        if full {
            // The failed job: rank 1 is killed in generation 2; the state is that of generation 1; resumed on 3 ranks.
            let (s4, o4, e4) = try run(2, common + output("resumed"), environment: ["FAIL_AFTER": "2"], in: dir)
            #expect(s4 != 0 && (o4 + e4).contains("signal 9"), "\(o4) \(e4)")
            let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("resumed/state.json"))) as? [String: Any]
            #expect((saved?["generation"] as? Int) == 1)
            let (s5, _, e5) = try run(3, common + output("resumed") + ["--resume"], in: dir)
            #expect(s5 == 0, "\(e5)")
        }

        func bytes(_ run: String, _ file: String) -> Data? { try? Data(contentsOf: dir.appendingPathComponent(run + "/" + file)) }
        /// A file's text without its timing fields.
        func untimed(_ run: String, _ file: String) -> String {
            let text = String(decoding: bytes(run, file) ?? Data(), as: UTF8.self)
            return text.replacingOccurrences(of: #""(elapsed|seconds)" ?: ?[0-9.eE+-]+"#, with: "", options: .regularExpression)
        }
        // The database's files (not the build's lock, `.database.lock`, which only a single-process build takes).
        let databaseFiles = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("one/database").path)
            .filter { !$0.hasPrefix(".") }.sorted()
        #expect(databaseFiles.count > 3)
        // Post-training is data-parallel: AdamW divides each gradient by its own running size, so where a gradient
        // is near zero the summation order of the ranks shows in its update; the weights stay within a quarter of
        // the largest post-training change of the single process (SGD, which does not divide, is checked to 1e-5 of its update).
        if postTrain > 0 {
            let (z, _, ze) = try run(nil, settings + ["--post-train-tokens", "0"] + output("untrained"), in: dir)
            #expect(z == 0, "\(ze)")
        }
        for run in full ? ["two", "three", "resumed"] : ["two", "three"] {
            if postTrain > 0 {
                let (cs, co, ce) = try TestSupport.runExecutable(["-e", weightDifference, "-", dir.appendingPathComponent(run + "/model").path,
                                                                  dir.appendingPathComponent("one/model").path, dir.appendingPathComponent("untrained/model").path])
                #expect(cs == 0 && (Double(co) ?? 1) < 0.25, "\(run): post-trained weights differ by \(co) of the update \(ce)")
            } else {
                // Without post-training the exported model is the same file, byte for byte.
                #expect(bytes(run, "model/model.safetensors") == bytes("one", "model/model.safetensors") && bytes("one", "model/model.safetensors") != nil, "\(run): model")
            }
            #expect(bytes(run, "model/config.json") == bytes("one", "model/config.json") && bytes("one", "model/config.json") != nil, "\(run): model shapes")
            #expect(bytes(run, "config.txt") == bytes("one", "config.txt"), "\(run): chosen levels")
            #expect(untimed(run, "log.jsonl") == untimed("one", "log.jsonl") && untimed("one", "log.jsonl").split(separator: "\n").count == generations, "\(run): log")
            for file in databaseFiles {
                #expect(untimed(run, "database/" + file) == untimed("one", "database/" + file), "\(run): database/\(file)")
            }
        }
    }
}
