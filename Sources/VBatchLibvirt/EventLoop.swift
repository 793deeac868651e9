import CLibvirt
import Foundation
import Synchronization

/// libvirt's default event loop, run on a dedicated thread for the life of the process.
///
/// libvirt delivers domain events, connection-close notifications and keepalive pings only
/// through a registered event loop, and the loop must be registered before the first connection
/// is opened. ``LibvirtConnection`` starts it itself; calling ``start()`` early does no harm.
public enum LibvirtEventLoop {
    private static let started = Mutex(false)

    /// Registers the default event loop implementation and starts the thread that runs it.
    /// Idempotent and thread-safe.
    public static func start() {
        let first = started.withLock { started in
            defer { started = true }
            return !started
        }
        guard first else { return }
        _ = virInitialize()
        // libvirt prints every error to stderr unless a handler is set; errors are reported
        // to callers as LibvirtError instead.
        virSetErrorFunc(nil, silenceLibvirtError)
        guard virEventRegisterDefaultImpl() == 0 else {
            let error = LibvirtError.last(operation: "virEventRegisterDefaultImpl")
            fatalError("cannot register libvirt's event loop: \(error)")
        }
        let thread = Thread {
            while true {
                if virEventRunDefaultImpl() < 0 {
                    virResetLastError()
                    usleep(10_000)  // never spin if the loop keeps failing
                }
            }
        }
        thread.name = "libvirt-event-loop"
        thread.start()
    }
}

private func silenceLibvirtError(_ userData: UnsafeMutableRawPointer?, _ error: virErrorPtr?) {}
