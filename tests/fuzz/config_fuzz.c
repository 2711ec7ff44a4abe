/*
 * Fuzz the configuration reader: each input is written as a statekit.ini
 * in the private temporary directory and loaded with config_load. An
 * accepted file must give values that hold their invariants (an absolute
 * state dir, strings that end inside their buffers, integers in range), and
 * its templates must expand or be refused cleanly.
 */
#include "config.h"
#include "fuzz.h"

static char file[PATH_MAX];
#define TERMINATED(f) (memchr(cfg.f, '\0', sizeof(cfg.f)) != NULL)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(file, sizeof(file), "%s/statekit.ini", fz_tmpdir());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sk_config cfg;
	struct sk_err err = SK_ERR_INIT;
	char out[PATH_MAX];
	int lowest_fd = fz_lowest_fd();

	fz_write_file(file, data, size);
	if (config_load(&cfg, file, &err) < 0) {
		fz_verdict("refused: %s", err.msg);
		if (err.code != SK_EUSAGE)
			fz_fail("config: refused with code %d, not SK_EUSAGE: %s", err.code,
				err.msg);
		fz_check_fds(lowest_fd, "config");
		return 0;
	}
	fz_verdict("accepted: state dir '%s'", cfg.state_dir);
	if (cfg.state_dir[0] != '/')
		fz_fail("config: accepted a relative state dir '%s'", cfg.state_dir);
	if (!TERMINATED(state_dir) || !TERMINATED(backend) || !TERMINATED(ws_path) ||
	    !TERMINATED(stop_command) || !TERMINATED(start_command) || !TERMINATED(legacy_dir) ||
	    !TERMINATED(ctd_address) || !TERMINATED(ctd_namespace) || !TERMINATED(ctd_container) ||
	    !TERMINATED(ctd_data_path) || !TERMINATED(ctd_ctr) || !TERMINATED(fc_binary) ||
	    !TERMINATED(fc_jailer) || !TERMINATED(fc_socket) || !TERMINATED(fc_chroot) ||
	    !TERMINATED(fc_clone))
		fz_fail("config: a value runs past its buffer");
	if (cfg.keep < 1 || cfg.level < 0 || cfg.level > 22 || cfg.threads < 0 ||
	    cfg.ctd_stop_timeout < 0 || !cfg.max_entries || !cfg.max_bytes || !cfg.max_path ||
	    !cfg.max_depth)
		fz_fail("config: accepted a value out of range");
	if (strcmp(cfg.backend, "dir") && strcmp(cfg.backend, "containerd"))
		fz_fail("config: accepted backend '%s'", cfg.backend);
	config_expand(cfg.ws_path, "bot-1", out, sizeof(out), &err);
	config_expand(cfg.ctd_container, "bot-1", out, sizeof(out), &err);
	config_expand(cfg.fc_socket, "vm_1", out, sizeof(out), &err);
	config_expand(cfg.fc_chroot, "vm_1", out, 16, &err);
	fz_check_fds(lowest_fd, "config");
	return 0;
}
