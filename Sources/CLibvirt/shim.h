#ifndef VBATCH_CLIBVIRT_SHIM_H
#define VBATCH_CLIBVIRT_SHIM_H

#include <stddef.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/// Registers a domain lifecycle callback. `VIR_DOMAIN_EVENT_CALLBACK` is a cast macro that
/// Swift cannot import, so the typed callback is cast to the generic one here.
static inline int clibvirt_register_lifecycle_callback(virConnectPtr conn,
                                                       virConnectDomainEventCallback callback,
                                                       void *opaque,
                                                       virFreeCallback freeCallback) {
    return virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                            VIR_DOMAIN_EVENT_CALLBACK(callback), opaque, freeCallback);
}

/// `VIR_UUID_STRING_BUFLEN` is an expression macro; this constant imports into Swift.
enum { CLIBVIRT_UUID_STRING_BUFLEN = VIR_UUID_STRING_BUFLEN };

#endif
