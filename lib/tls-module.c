/* postern-tls.so: lib/tls.c and OpenSSL behind one table of functions,
 * loaded by the sessions when TLS starts; see tlsmod.h.  Everything else
 * in the module is built with hidden visibility. */
#include "config.h"

#include "tls.h"
#include "tlsmod.h"

extern const struct tls_module postern_tls_module;

__attribute__((visibility("default")))
const struct tls_module postern_tls_module = {
	.version = TLS_MODULE_VERSION,
	.size = sizeof(struct tls_module),
	.conf_size = sizeof(struct conf),
	.files_size = sizeof(struct tls_files),
	.io_ops_size = sizeof(struct io_ops),
	.package = PACKAGE_VERSION,
	.server = tls_server_files,
	.accept = tls_accept,
	.io_ops = tls_io_ops,
	.error = tls_error,
	.version_name = tls_version,
	.cipher = tls_cipher,
	.cipher_bits = tls_cipher_bits,
	.reused = tls_reused,
	.close = tls_close,
	.warm = tls_warm,
	.server_ready = tls_server_ready,
	.server_on = tls_server_on,
};
