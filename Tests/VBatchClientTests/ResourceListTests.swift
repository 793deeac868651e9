import Testing
@testable import VBatchClient

@Suite("-l resource lists")
struct ResourceListTests {
    @Test func fullList() throws {
        let r = try ResourceList.parse(["walltime=2h,cores=2,mem=2gb"])
        #expect(r == ResourceList(walltime: 7200, cores: 2, memoryMB: 2048))
    }

    @Test func severalOptionsAndPBSForms() throws {
        #expect(try ResourceList.parse(["nodes=1:ppn=8", "walltime=01:30:00", "mem=512"])
            == ResourceList(walltime: 5400, cores: 8, memoryMB: 512))
        #expect(try ResourceList.parse(["nodes=1,walltime=1h30m"]) == ResourceList(walltime: 5400))
        #expect(try ResourceList.parse([" Walltime = 45m , MEM=4G "]) == ResourceList(walltime: 2700, memoryMB: 4096))
        #expect(try ResourceList.parse([]) == ResourceList())
    }

    @Test(arguments: [
        ("gpus=1", "-l: unknown resource 'gpus' (known: walltime, cores, mem, nodes=1:ppn=N)"),
        ("walltime", "-l: 'walltime' has no value (write walltime=VALUE)"),
        ("walltime=", "-l: walltime has an empty value"),
        ("walltime=2x", "-l: bad walltime '2x' (use e.g. 3600, 90m, 2h, 1h30m or HH:MM:SS)"),
        ("walltime=0", "-l: walltime must be longer than 0 seconds"),
        ("walltime=400d", "-l: bad walltime '400d' (use e.g. 3600, 90m, 2h, 1h30m or HH:MM:SS)"),
        ("walltime=1h,walltime=2h", "-l: walltime given more than once"),
        ("mem=lots", "-l: bad mem 'lots' (use e.g. 512mb, 2gb or a number of MiB)"),
        ("mem=0", "-l: mem must be at least 1mb"),
        ("cores=0", "-l: bad cores '0' (a whole number from 1 to 65536)"),
        ("cores=-2", "-l: bad cores '-2' (a whole number from 1 to 65536)"),
        ("cores=1.5", "-l: bad cores '1.5' (a whole number from 1 to 65536)"),
        ("cores=2,nodes=1:ppn=2", "-l: cores given more than once (also counts nodes=1:ppn=N)"),
        ("nodes=2:ppn=4", "-l: nodes=2 asks for 2 nodes, but a vbatch job is one VM on one node"),
        ("nodes=wn07:ppn=4", "-l: bad nodes 'wn07:ppn=4' (only nodes=1 or nodes=1:ppn=N)"),
        ("nodes=1:gpus=1", "-l: bad nodes '1:gpus=1' (only nodes=1 or nodes=1:ppn=N)"),
        ("nodes=1:ppn=x", "-l: bad ppn 'x' (a whole number from 1 to 65536)"),
        ("cores=2,,mem=1gb", "-l: empty resource (write e.g. -l walltime=2h,cores=2,mem=2gb)"),
        ("na\u{1b}[31m=1", "-l: unknown resource 'na?[31m' (known: walltime, cores, mem, nodes=1:ppn=N)"),
    ])
    func invalid(spec: String, message: String) {
        #expect(throws: ResourceList.ParseError(message)) { try ResourceList.parse([spec]) }
    }
}

@Suite("-v variables")
struct JobVariablesTests {
    @Test func valid() throws {
        let v = try JobVariables.parse(["A=1", "B=x=y,z", "EMPTY=", "FROM_ENV"]) { $0 == "FROM_ENV" ? "inherited" : nil }
        #expect(v == ["A": "1", "B": "x=y,z", "EMPTY": "", "FROM_ENV": "inherited"])
    }

    @Test(arguments: [
        ("1A=x", "-v: bad variable name '1A' (letters, digits and _, not starting with a digit)"),
        ("=x", "-v: bad variable name '' (letters, digits and _, not starting with a digit)"),
        ("A-B=x", "-v: bad variable name 'A-B' (letters, digits and _, not starting with a digit)"),
        ("UNSET_VAR", "-v: UNSET_VAR has no value and is not set in the environment (write UNSET_VAR=VALUE)"),
        ("A=a\u{0}b", "-v: the value of A contains a NUL byte"),
    ])
    func invalid(spec: String, message: String) {
        #expect(throws: JobVariables.ParseError(message)) { try JobVariables.parse([spec]) { _ in nil } }
    }

    @Test func duplicate() {
        #expect(throws: JobVariables.ParseError("-v: A given more than once")) {
            try JobVariables.parse(["A=1", "A=2"]) { _ in nil }
        }
    }
}
