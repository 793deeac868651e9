import Testing
@testable import VBatchConfig

/// Errors found in one file: TOML syntax, unknown keys and tables, types, quantities, required keys, names.
@Suite struct SyntaxAndSchemaErrorTests {
    @Test func baseFixtureIsValid() throws {
        let config = try ConfigFixture().load()
        #expect(config.queues.map(\.name) == ["grid", "one-way"])
        #expect(config.nodes.map(\.cpus) == [[0, 1, 2, 3]])
    }

    @Test func misspeltKeyIsReportedOnItsLine() throws {
        try ConfigFixture(["queues/q.toml": """
            [queue.grid]
            type = "routing"
            destinations = ["one-way"]

            [queue.one-way]
            type = "execution"
            walltime_mx = "5h"
            environments = ["guest"]
            walltime_max = "10h"
            """]).expectSingleError(file: "queues/q.toml", line: 7, key: "queue.one-way.walltime_mx",
                                    message: "unknown key (did you mean walltime_max?)")
    }

    @Test func tomlSyntaxErrorCarriesItsLine() throws {
        try ConfigFixture(["queues/q.toml": """
            [queue.grid]
            type = "routing"
            destinations = ["one-way"]
            [queue.one-way]
            type = execution
            """]).expectSingleError(file: "queues/q.toml", line: 5, key: "", message: "TOML syntax error")
    }

    @Test func tableDefinedTwiceInOneFileIsASyntaxError() throws {
        let f = try ConfigFixture(["queues/extra.toml": """
            [queue.x]
            type = "routing"

            [queue.x]
            type = "routing"
            """])
        let errors = f.errors()
        #expect(errors.count == 1)
        #expect(errors.first?.file == f.path("queues/extra.toml"))
        #expect(errors.first?.line == 4)
    }

    @Test func unknownTopLevelTable() throws {
        try ConfigFixture(["site.toml": ConfigFixture.site + "\n\n[nodes.wn02]\nuri = \"sim://\"\n"])
            .expectSingleError(file: "site.toml", line: 9, key: "nodes", message: "unknown table [nodes]")
    }

    @Test func queueFileHoldsOnlyQueues() throws {
        try ConfigFixture(["queues/extra.toml": "# images belong in images/\n[image.other]\nkernel = \"k\"\n"])
            .expectSingleError(file: "queues/extra.toml", line: 2, key: "image",
                               message: "a queue file holds only [queue.NAME] tables")
    }

    @Test func wrongValueType() throws {
        try ConfigFixture(["queues/q.toml": ConfigFixture.queues + "\nmax_running = \"100\"\nenabled = 1\n"]).errorsMatch([
            ("queues/q.toml", 10, "queue.one-way.max_running", "must be an integer, not a string"),
            ("queues/q.toml", 11, "queue.one-way.enabled", "must be true or false, not an integer"),
        ])
    }

    @Test func queueThatIsNotATable() throws {
        try ConfigFixture(["queues/extra.toml": "[queue]\nextra = 3\n"])
            .expectSingleError(file: "queues/extra.toml", line: 2, key: "queue.extra", message: "must be a table")
    }

    @Test func badDurationAndMemory() throws {
        try ConfigFixture(["queues/q.toml": """
            [queue.grid]
            type = "routing"
            destinations = ["one-way"]

            [queue.one-way]
            type = "execution"
            environments = ["guest"]
            walltime_max = "10x"
            walltime_default = "0"
            max_memory = "2zb"
            """]).errorsMatch([
                ("queues/q.toml", 8, "queue.one-way.walltime_max", "\"10x\" is not a duration"),
                ("queues/q.toml", 9, "queue.one-way.walltime_default", "must be at least 1s"),
                ("queues/q.toml", 10, "queue.one-way.max_memory", "\"2zb\" is not a memory size"),
            ])
    }

    @Test func missingRequiredKeysAreReportedAtTheTableHeader() throws {
        try ConfigFixture([
            "queues/q.toml": """
                [queue.grid]
                type = "routing"

                [queue.one-way]
                type = "execution"
                """,
            "site.toml": "# nodes\n[node.wn01]\nenabled = true\n",
        ]).errorsMatch([
            ("queues/q.toml", 1, "queue.grid.destinations", "missing required key"),
            ("queues/q.toml", 4, "queue.one-way.environments", "missing required key"),
            ("queues/q.toml", 4, "queue.one-way.walltime_max", "missing required key"),
            ("site.toml", 2, "node.wn01.uri", "missing required key"),
            ("site.toml", 2, "node.wn01.memory", "missing required key"),
            ("site.toml", 2, "node.wn01.cpus", "give cpus = \"0-3\" (host CPUs) or slots = N"),
        ])
    }

    @Test func missingQueueType() throws {
        try ConfigFixture(["queues/extra.toml": "\n[queue.x]\ndestinations = [\"one-way\"]\n"])
            .expectSingleError(file: "queues/extra.toml", line: 2, key: "queue.x.type", message: "missing required key")
    }

    @Test func executionKeyInRoutingQueue() throws {
        try ConfigFixture(["queues/extra.toml": "[queue.x]\ntype = \"routing\"\ndestinations = [\"one-way\"]\npriority = 3\n"])
            .expectSingleError(file: "queues/extra.toml", line: 4, key: "queue.x.priority",
                               message: "applies to execution queues")
    }

    @Test func invalidNames() throws {
        try ConfigFixture([
            "queues/extra.toml": "[queue.\"bad name\"]\ntype = \"routing\"\ndestinations = [\"one-way\"]\n\n[queue.-x]\ntype = \"routing\"\ndestinations = [\"one-way\"]\n",
            "images/more.toml": "[image.\"a/b\"]\nkernel = \"k\"\n",
        ]).errorsMatch([
            ("queues/extra.toml", 1, "queue.\"bad name\"", "invalid name"),
            ("queues/extra.toml", 5, "queue.-x", "invalid name"),
            ("images/more.toml", 1, "image.\"a/b\"", "invalid name"),
        ])
    }

    @Test func quotedNamesWithDotsAreFine() throws {
        let config = try ConfigFixture(["queues/extra.toml": "[queue.\"v1.2\"]\ntype = \"routing\"\ndestinations = [\"one-way\"]\n"]).load()
        #expect(config.queue(named: "v1.2") != nil)
    }

    @Test func keyOfADottedNameIsQuoted() throws {
        try ConfigFixture(["queues/extra.toml": "[queue.\"v1.2\"]\ntype = \"routing\"\ndestinations = [\"one-way\"]\nenabeld = true\n"])
            .expectSingleError(file: "queues/extra.toml", line: 4, key: "queue.\"v1.2\".enabeld",
                               message: "did you mean enabled?")
    }

    @Test func duplicateNameAcrossFilesPointsAtTheFirst() throws {
        let f = try ConfigFixture(["queues/z.toml": "# again\n\n[queue.one-way]\ntype = \"routing\"\ndestinations = [\"one-way\"]\n",
                                   "images/z.toml": "[image.guest]\nkernel = \"k\"\n"])
        let errors = f.errors()
        #expect(errors.map(\.file) == [f.path("queues/z.toml"), f.path("images/z.toml")])
        #expect(errors.map(\.line) == [3, 1])
        #expect(errors.map(\.key) == ["queue.one-way", "image.guest"])
        #expect(errors.first?.message == "queue one-way is already defined at \(f.path("queues/q.toml")):5")
        #expect(errors.last?.message == "image guest is already defined at \(f.path("images/guest.toml")):1")
    }

    @Test func siteTableValues() throws {
        try ConfigFixture(["site.toml": ConfigFixture.site + """

            [site]
            placement = "random"
            local_share = 0
            max_start_attempts = 0
            fair_share_half_life = "soon"
            operators = "root"
            """]).errorsMatch([
                ("site.toml", 9, "site.placement", "\"random\" is not one of \"pack\", \"spread\""),
                ("site.toml", 10, "site.local_share", "greater than 0"),
                ("site.toml", 11, "site.max_start_attempts", "at least 1"),
                ("site.toml", 12, "site.fair_share_half_life", "not a duration"),
                ("site.toml", 13, "site.operators", "must be a list of strings, not a string"),
            ])
    }

    @Test func noNodes() throws {
        try ConfigFixture(["site.toml": "[site]\nname = \"empty\"\n", "queues/q.toml": "[queue.grid]\ntype = \"routing\"\ndestinations = [\"x\"]\n"])
            .errorsMatch([
                ("queues/q.toml", 3, "queue.grid.destinations", "unknown queue x"),
                ("site.toml", 1, "node", "at least one worker node is required"),
            ])
    }

    @Test func missingSiteFile() throws {
        try ConfigFixture(["site.toml": nil]).expectSingleError(file: "site.toml", line: 0, key: "",
                                                                 message: "site file not found")
    }

    @Test func missingDirectories() throws {
        let f = try ConfigFixture(["images/guest.toml": nil, "queues/q.toml": nil])
        #expect(f.errors().map(\.file) == [f.path("queues"), f.path("images")])
        try f.write("queues/.keep", "")
        try f.write("images/.keep", "")
        // Empty queue and image directories are valid: a site with nodes and no queues yet.
        #expect(try f.load().queues.isEmpty)
    }
}

extension ConfigFixture {
    /// Expects exactly these errors, in this order: (file, line, key, part of the message).
    func errorsMatch(_ expected: [(String, Int, String, String)], sourceLocation: SourceLocation = #_sourceLocation) {
        let errors = errors(sourceLocation: sourceLocation)
        #expect(errors.count == expected.count, "\(ConfigErrors(errors: errors))", sourceLocation: sourceLocation)
        for (error, (file, line, key, message)) in zip(errors, expected) {
            #expect(error.file == path(file), "\(error)", sourceLocation: sourceLocation)
            #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
            #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
        }
    }
}
