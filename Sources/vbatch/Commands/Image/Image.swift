import ArgumentParser

/// `vbatch image build | check | list`: the VM factory and the catalogue, run locally
/// against a configuration directory (no daemon involved).
///
/// The work is done by `vbatch-image`, installed next to `vbatch`, which these commands
/// exec once their arguments are checked (``CompanionTool``): the factory needs Foundation,
/// TOMLKit and the configuration loader, which would make every `vbatch` process — one per
/// submitted job — start slower (2.0 → 2.45 ms, measured).
struct Image: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build images from recipes (the VM factory), check and list the catalogue, push images to nodes.",
        discussion: """
            build, check and list work on a configuration directory (--config DIR, else $VBATCH_CONFIG, \
            else the current directory), not through vbatchd. vbatchd reads the catalogue when it \
            starts or reloads: run vbatch reload to offer a newly built image. See docs/factory.md. \
            push asks vbatchd to copy an image into worker nodes' caches (docs/nodes.md).
            """,
        subcommands: [ImageBuild.self, ImageCheckCommand.self, ImageList.self, ImagePush.self])
}
