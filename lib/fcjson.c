/*
 * fcjson.c: all JSON through jansson: Firecracker request and response
 * bodies, the snapshot manifest (written, and read back as untrusted input
 * with every field checked), and the --json documents of the fcsnap commands.
 */
#include "fcjson.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctrd.h"
#include "banned.h"

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void fcjson_fault(const char *body, char *out, size_t size)
{
	json_t *root;
	const char *msg;

	if (!body || !*body) {
		copy_str(out, size, "(no message)");
		return;
	}
	root = json_loads(body, 0, NULL);
	msg = json_string_value(json_object_get(root, "fault_message"));
	copy_str(out, size, msg ? msg : body);
	json_decref(root);
}

int fcjson_instance(const char *body, struct fc_instance *out, struct sk_err *err)
{
	json_error_t je;
	json_t *root = json_loads(body ? body : "", 0, &je);
	const char *id, *state, *ver;

	if (!json_is_object(root)) {
		json_decref(root);
		return sk_err_set(err, SK_EFAIL, "GET /: not a JSON object: %s", je.text);
	}
	id = json_string_value(json_object_get(root, "id"));
	state = json_string_value(json_object_get(root, "state"));
	ver = json_string_value(json_object_get(root, "vmm_version"));
	if (!state || !ver) {
		json_decref(root);
		return sk_err_set(err, SK_EFAIL, "GET /: no state or vmm_version in the answer");
	}
	copy_str(out->id, sizeof(out->id), id);
	copy_str(out->state, sizeof(out->state), state);
	copy_str(out->vmm_version, sizeof(out->vmm_version), ver);
	json_decref(root);
	return 0;
}

int fcjson_vmconfig(char *body, struct fc_vmconfig *out, struct sk_err *err)
{
	json_error_t je;
	json_t *root, *v, *d;
	size_t i;

	memset(out, 0, sizeof(*out));
	root = json_loads(body ? body : "", 0, &je);
	if (!json_is_object(root)) {
		json_decref(root);
		free(body);
		return sk_err_set(err, SK_EFAIL, "GET /vm/config: not a JSON object: %s", je.text);
	}
	out->raw = body;
	v = json_object_get(root, "machine-config");
	out->vcpus = (int)json_integer_value(json_object_get(v, "vcpu_count"));
	out->mem_mib = (int)json_integer_value(json_object_get(v, "mem_size_mib"));
	out->track_dirty = json_is_true(json_object_get(v, "track_dirty_pages"));
	v = json_object_get(root, "boot-source");
	copy_str(out->boot_args, sizeof(out->boot_args),
		 json_string_value(json_object_get(v, "boot_args")));
	v = json_object_get(root, "drives");
	json_array_foreach(v, i, d) {
		struct fc_drive *dr;
		const char *path = json_string_value(json_object_get(d, "path_on_host"));

		if (out->ndrives == FC_MAX_DRIVES) {
			json_decref(root);
			return sk_err_set(err, SK_EFAIL, "GET /vm/config: more than %d drives",
					  FC_MAX_DRIVES);
		}
		dr = &out->drives[out->ndrives++];
		copy_str(dr->id, sizeof(dr->id), json_string_value(json_object_get(d, "drive_id")));
		copy_str(dr->path, sizeof(dr->path), path);
		dr->read_only = json_is_true(json_object_get(d, "is_read_only"));
		dr->vhost_user = !path && json_is_string(json_object_get(d, "socket"));
		if (!dr->id[0] || (!path && !dr->vhost_user)) {
			json_decref(root);
			return sk_err_set(err, SK_EFAIL,
					  "GET /vm/config: a drive without id or path");
		}
	}
	v = json_object_get(root, "network-interfaces");
	json_array_foreach(v, i, d) {
		struct fc_net *n;

		if (out->nnets == FC_MAX_NETS) {
			json_decref(root);
			return sk_err_set(err, SK_EFAIL, "GET /vm/config: more than %d interfaces",
					  FC_MAX_NETS);
		}
		n = &out->nets[out->nnets++];
		copy_str(n->iface, sizeof(n->iface),
			 json_string_value(json_object_get(d, "iface_id")));
		copy_str(n->tap, sizeof(n->tap),
			 json_string_value(json_object_get(d, "host_dev_name")));
		copy_str(n->mac, sizeof(n->mac),
			 json_string_value(json_object_get(d, "guest_mac")));
	}
	v = json_object_get(root, "vsock");
	copy_str(out->vsock_uds, sizeof(out->vsock_uds),
		 json_string_value(json_object_get(v, "uds_path")));
	json_decref(root);
	if (out->mem_mib <= 0)
		return sk_err_set(err, SK_EFAIL, "GET /vm/config: no mem_size_mib");
	return 0;
}

static char *dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *fcjson_body_vm_state(const char *state)
{
	return dump(json_pack("{s:s}", "state", state));
}

char *fcjson_body_snapshot_create(const char *state_path, const char *mem_path, int diff)
{
	return dump(json_pack("{s:s, s:s, s:s}", "snapshot_type", diff ? "Diff" : "Full",
			      "snapshot_path", state_path, "mem_file_path", mem_path));
}

char *fcjson_body_snapshot_load(const char *state_path, const char *mem_path, int mem_backend,
				const struct fc_net *overrides, int n, const char *vsock_uds,
				int track_dirty)
{
	json_t *o = json_pack("{s:s, s:b}", "snapshot_path", state_path, "resume_vm", 0);
	int i;

	if (!o)
		return NULL;
	if (mem_backend)
		json_object_set_new(o, "mem_backend",
				    json_pack("{s:s, s:s}", "backend_type", "File", "backend_path",
					      mem_path));
	else
		json_object_set_new(o, "mem_file_path", json_string(mem_path));
	if (n > 0) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:s, s:s}", "iface_id",
							   overrides[i].iface, "host_dev_name",
							   overrides[i].tap));
		json_object_set_new(o, "network_overrides", a);
	}
	if (vsock_uds)
		json_object_set_new(o, "vsock_override", json_pack("{s:s}", "uds_path", vsock_uds));
	if (track_dirty)
		json_object_set_new(o, "track_dirty_pages", json_true());
	return dump(o);
}

void fcjson_vsock_path(const char *vmconfig, char *out, size_t size)
{
	json_t *root = vmconfig ? json_loads(vmconfig, 0, NULL) : NULL;

	copy_str(out, size,
		 json_string_value(json_object_get(json_object_get(root, "vsock"), "uds_path")));
	json_decref(root);
}

/* ---- the manifest ---- */

int fcjson_safe_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= 80 || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A chunk list as an array of hex digests. */
static json_t *chunks_json(const struct chunk_list *cl)
{
	json_t *a = json_array();
	char hex[HASH_HEX_LEN + 1];
	size_t i;

	for (i = 0; i < cl->n; i++) {
		hash_hex(cl->d[i], hex);
		json_array_append_new(a, json_string(hex));
	}
	return a;
}

char *fcjson_manifest_dump(const struct manifest *m, struct sk_err *err)
{
	json_t *o, *arts, *nets, *cfg = NULL;
	char *text;
	int i;

	o = json_object();
	json_object_set_new(o, "format", json_integer(m->format));
	if (m->chunks)
		json_object_set_new(o, "chunk_size", json_integer(m->chunk_size));
	json_object_set_new(o, "snapshot", json_string(m->snapshot));
	json_object_set_new(o, "machine", json_string(m->machine));
	json_object_set_new(o, "created", json_integer(m->created));
	json_object_set_new(o, "vmm_version", json_string(m->vmm_version));
	json_object_set_new(o, "snapshot_version",
			    m->snapshot_version[0] ? json_string(m->snapshot_version)
						   : json_null());
	json_object_set_new(o, "jailed", json_boolean(m->jailed));
	if (m->jailed) {
		json_object_set_new(o, "uid", json_integer(m->uid));
		json_object_set_new(o, "gid", json_integer(m->gid));
	}
	json_object_set_new(o, "guest_ip", m->guest_ip[0] ? json_string(m->guest_ip) : json_null());
	json_object_set_new(o, "pause_us", json_integer(m->pause_us));
	if (m->chunks) {
		json_object_set_new(o, "snapshot_type", json_string(m->diff ? "Diff" : "Full"));
		json_object_set_new(o, "diff_base", m->diff ? json_string(m->base) : json_null());
		json_object_set_new(o, "diff_pages",
				    m->diff ? json_string(m->diff_pages) : json_null());
	}
	nets = json_array();
	for (i = 0; i < m->nnets; i++)
		json_array_append_new(nets, json_pack("{s:s, s:s, s:s}", "iface_id",
						      m->nets[i].iface, "host_dev_name",
						      m->nets[i].tap, "guest_mac", m->nets[i].mac));
	json_object_set_new(o, "taps", nets);
	arts = json_array();
	for (i = 0; i < m->nart; i++) {
		const struct artifact_row *a = &m->arts[i];
		json_t *j = json_pack("{s:s, s:s, s:I, s:s}", "name", a->name, "kind", a->kind,
				      "size", (json_int_t)a->size, "sha256", a->sha256);

		if (m->chunks)
			json_object_set_new(j, "chunks", chunks_json(&m->chunks[i]));
		if (!strcmp(a->kind, "disk")) {
			json_object_set_new(j, "drive_id", json_string(a->drive_id));
			json_object_set_new(j, "recorded_path", json_string(a->recorded));
			json_object_set_new(j, "read_only", json_boolean(a->read_only));
		}
		json_array_append_new(arts, j);
	}
	json_object_set_new(o, "artifacts", arts);
	if (m->vm_config)
		cfg = json_loads(m->vm_config, 0, NULL);
	json_object_set_new(o, "vm_config", cfg ? cfg : json_null());
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		return NULL;
	}
	/* json_dumps leaves off the final newline a text file should have. */
	{
		size_t n = strlen(text);
		char *t = realloc(text, n + 2);

		if (!t) {
			free(text);
			sk_err_set(err, SK_EFAIL, "out of memory");
			return NULL;
		}
		t[n] = '\n';
		t[n + 1] = '\0';
		text = t;
	}
	return text;
}

static int bad(struct sk_err *err, const char *what)
{
	return sk_err_set(err, SK_EDAMAGED, "manifest: %s", what);
}

static int get_str(json_t *o, const char *key, char *dst, size_t size, int required,
		   struct sk_err *err)
{
	json_t *v = json_object_get(o, key);
	char msg[128];

	if (!v || json_is_null(v)) {
		if (!required) {
			dst[0] = '\0';
			return 0;
		}
		snprintf(msg, sizeof(msg), "'%s' is missing", key);
		return bad(err, msg);
	}
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(msg, sizeof(msg), "'%s' is not a string that fits", key);
		return bad(err, msg);
	}
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

/* Firecracker's drive ids: letters, digits and '_'. */
static int drive_id_ok(const char *id)
{
	const char *p;

	for (p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return p != id && p - id < 64;
}

/* A drive path: no "." or ".." component, no empty one, no trailing '/'. */
static int drive_path_ok(const char *path)
{
	const char *p = path;

	if (*p == '/')
		p++;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!p[n])
			return 1;
		p += n + 1;
	}
}

static int parse_artifact(json_t *j, struct artifact_row *a, struct sk_err *err)
{
	json_t *size;

	if (!json_is_object(j))
		return bad(err, "an artifact is not an object");
	if (get_str(j, "name", a->name, sizeof(a->name), 1, err) < 0 ||
	    get_str(j, "kind", a->kind, sizeof(a->kind), 1, err) < 0 ||
	    get_str(j, "sha256", a->sha256, sizeof(a->sha256), 1, err) < 0)
		return -1;
	if (!fcjson_safe_name(a->name) || !strcmp(a->name, "manifest.json"))
		return sk_err_set(err, SK_EDAMAGED, "manifest: unsafe artifact name '%.80s'",
				  a->name);
	if (strcmp(a->kind, "state") && strcmp(a->kind, "memory") && strcmp(a->kind, "disk"))
		return sk_err_set(err, SK_EDAMAGED, "manifest: artifact '%s' has unknown kind '%s'",
				  a->name, a->kind);
	if (!is_hex64(a->sha256))
		return sk_err_set(err, SK_EDAMAGED, "manifest: artifact '%s' has a bad sha256",
				  a->name);
	size = json_object_get(j, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return sk_err_set(err, SK_EDAMAGED, "manifest: artifact '%s' has a bad size",
				  a->name);
	a->size = (uint64_t)json_integer_value(size);
	if (!strcmp(a->kind, "disk")) {
		if (get_str(j, "drive_id", a->drive_id, sizeof(a->drive_id), 1, err) < 0 ||
		    get_str(j, "recorded_path", a->recorded, sizeof(a->recorded), 1, err) < 0)
			return -1;
		if (!a->drive_id[0] || !a->recorded[0])
			return sk_err_set(err, SK_EDAMAGED,
					  "manifest: disk '%s' has no drive id or path", a->name);
		if (!drive_id_ok(a->drive_id))
			return sk_err_set(err, SK_EDAMAGED,
					  "manifest: disk '%s' has a bad drive id", a->name);
		/* Restore puts the clone at this path: it must stay where it points. */
		if (!drive_path_ok(a->recorded))
			return sk_err_set(err, SK_EDAMAGED,
					  "manifest: disk '%s' has an unsafe path '%.200s'",
					  a->name, a->recorded);
		a->read_only = json_is_true(json_object_get(j, "read_only"));
	}
	return 0;
}

/*
 * Format 2's kind of snapshot: "Full", or "Diff" with the snapshot whose
 * memory it was merged onto ("" when onto an empty file) and how
 * Firecracker chose the pages it wrote.
 */
static int parse_diff(json_t *root, struct manifest *m, struct sk_err *err)
{
	struct sk_err idc = SK_ERR_INIT;
	char type[8];

	if (get_str(root, "snapshot_type", type, sizeof(type), 1, err) < 0)
		return -1;
	if (!strcmp(type, "Full"))
		return 0;
	if (strcmp(type, "Diff"))
		return bad(err, "'snapshot_type' is neither Full nor Diff");
	m->diff = 1;
	if (get_str(root, "diff_base", m->base, sizeof(m->base), 1, err) < 0 ||
	    get_str(root, "diff_pages", m->diff_pages, sizeof(m->diff_pages), 1, err) < 0)
		return -1;
	if (m->base[0] && config_check_id("snapshot", m->base, &idc) < 0)
		return sk_err_set(err, SK_EDAMAGED, "manifest: diff_base: %s", idc.msg);
	if (strcmp(m->diff_pages, "dirty-log") && strcmp(m->diff_pages, "resident"))
		return bad(err, "'diff_pages' is neither dirty-log nor resident");
	return 0;
}

/* The manifest's scalar fields: ids, versions, times, the jail's owner. */
static int parse_header(json_t *root, struct manifest *m, struct sk_err *err)
{
	struct sk_err idc = SK_ERR_INIT;
	json_t *v = json_object_get(root, "format");

	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > MANIFEST_FORMAT)
		return sk_err_set(err, SK_EDAMAGED,
				  "manifest: unknown format (this statekit reads 1 to %d)",
				  MANIFEST_FORMAT);
	m->format = (int)json_integer_value(v);
	if (m->format >= 2) {
		json_int_t cs = json_integer_value(json_object_get(root, "chunk_size"));

		if (cs < HASH_CHUNK_MIN || cs > HASH_CHUNK_MAX || (cs & (cs - 1)))
			return bad(err, "'chunk_size' is not a power of two from 64 KiB to 64 MiB");
		m->chunk_size = (uint32_t)cs;
	}
	if (get_str(root, "snapshot", m->snapshot, sizeof(m->snapshot), 1, err) < 0 ||
	    get_str(root, "machine", m->machine, sizeof(m->machine), 1, err) < 0 ||
	    get_str(root, "vmm_version", m->vmm_version, sizeof(m->vmm_version), 1, err) < 0 ||
	    get_str(root, "snapshot_version", m->snapshot_version, sizeof(m->snapshot_version), 0,
		    err) < 0 ||
	    get_str(root, "guest_ip", m->guest_ip, sizeof(m->guest_ip), 0, err) < 0)
		return -1;
	if (config_check_id("snapshot", m->snapshot, &idc) < 0 ||
	    config_check_id("machine", m->machine, &idc) < 0)
		return sk_err_set(err, SK_EDAMAGED, "manifest: %s", idc.msg);
	m->created = json_integer_value(json_object_get(root, "created"));
	m->pause_us = json_integer_value(json_object_get(root, "pause_us"));
	if (m->format >= 2 && parse_diff(root, m, err) < 0)
		return -1;
	m->jailed = json_is_true(json_object_get(root, "jailed"));
	m->uid = (long)json_integer_value(json_object_get(root, "uid"));
	m->gid = (long)json_integer_value(json_object_get(root, "gid"));
	if (m->uid < 0 || m->gid < 0 || m->uid > 0x7fffffff || m->gid > 0x7fffffff)
		return bad(err, "'uid' or 'gid' out of range");
	return 0;
}

/* "taps": the machine's network interfaces, at most FC_MAX_NETS. */
static int parse_taps(json_t *root, struct manifest *m, struct sk_err *err)
{
	json_t *v = json_object_get(root, "taps"), *j;
	size_t i;

	if (v && !json_is_array(v))
		return bad(err, "'taps' is not an array");
	json_array_foreach(v, i, j) {
		struct fc_net *n;

		if (m->nnets == FC_MAX_NETS)
			return bad(err, "too many taps");
		n = &m->nets[m->nnets++];
		if (get_str(j, "iface_id", n->iface, sizeof(n->iface), 1, err) < 0 ||
		    get_str(j, "host_dev_name", n->tap, sizeof(n->tap), 1, err) < 0 ||
		    get_str(j, "guest_mac", n->mac, sizeof(n->mac), 0, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * An artifact's "chunks" (format 2): one digest per chunk of its size, and
 * its sha256 the digest of the list, so the manifest holds together before
 * a byte of the file is read.
 */
static int parse_chunks(json_t *j, const struct artifact_row *a, uint32_t cs, struct chunk_list *cl,
			struct sk_err *err)
{
	json_t *v = json_object_get(j, "chunks"), *h;
	char hex[HASH_HEX_LEN + 1];
	size_t i;

	cl->chunk_size = cs;
	if (!json_is_array(v) || json_array_size(v) != chunk_count(a->size, cs))
		return sk_err_set(err, SK_EDAMAGED,
				  "manifest: artifact '%s' does not list one chunk per %u bytes",
				  a->name, cs);
	cl->d = calloc(json_array_size(v) ? json_array_size(v) : 1, HASH_LEN);
	if (!cl->d)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	json_array_foreach(v, i, h) {
		if (!json_is_string(h) || hash_unhex(json_string_value(h), cl->d[i]) < 0) {
			chunk_list_free(cl); /* the caller frees only whole artifacts */
			return sk_err_set(err, SK_EDAMAGED,
					  "manifest: artifact '%s' has a bad chunk digest (%zu)",
					  a->name, i);
		}
		cl->n++;
	}
	chunk_list_digest(cl, hex);
	if (strcmp(hex, a->sha256)) {
		chunk_list_free(cl);
		return sk_err_set(err, SK_EDAMAGED,
				  "manifest: artifact '%s': its sha256 is not the chunks' digest",
				  a->name);
	}
	return 0;
}

/* "artifacts": each once, exactly one state and one memory file, disks after. */
static int parse_artifacts(json_t *root, struct manifest *m, struct sk_err *err)
{
	json_t *v = json_object_get(root, "artifacts"), *j;
	int nstate = 0, nmem = 0;
	size_t i, k;

	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 2 + FC_MAX_DRIVES)
		return bad(err, "'artifacts' is not a list of 2 to 34 entries");
	m->arts = calloc(json_array_size(v), sizeof(*m->arts));
	if (m->format >= 2)
		m->chunks = calloc(json_array_size(v), sizeof(*m->chunks));
	if (!m->arts || (m->format >= 2 && !m->chunks))
		return sk_err_set(err, SK_EFAIL, "out of memory");
	json_array_foreach(v, i, j) {
		struct artifact_row *a = &m->arts[m->nart];

		if (parse_artifact(j, a, err) < 0)
			return -1;
		if (m->chunks && parse_chunks(j, a, m->chunk_size, &m->chunks[m->nart], err) < 0)
			return -1;
		for (k = 0; k < (size_t)m->nart; k++)
			if (!strcmp(m->arts[k].name, a->name))
				return sk_err_set(err, SK_EDAMAGED,
						  "manifest: artifact '%s' listed twice", a->name);
		nstate += !strcmp(a->kind, "state");
		nmem += !strcmp(a->kind, "memory");
		m->nart++;
	}
	if (nstate != 1 || nmem != 1)
		return bad(err, "a snapshot needs exactly one state and one memory artifact");
	return 0;
}

int fcjson_manifest_parse(const char *text, struct manifest *m, struct sk_err *err)
{
	json_error_t je;
	json_t *root, *v;
	int ret = -1;

	memset(m, 0, sizeof(*m));
	root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(root)) {
		sk_err_set(err, SK_EDAMAGED, "manifest: not a JSON object (line %d: %s)", je.line,
			   je.text);
		goto out;
	}
	if (parse_header(root, m, err) < 0 || parse_taps(root, m, err) < 0 ||
	    parse_artifacts(root, m, err) < 0)
		goto out;
	v = json_object_get(root, "vm_config");
	if (json_is_object(v))
		m->vm_config = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ret = 0;
out:
	json_decref(root);
	if (ret < 0)
		fcjson_manifest_free(m);
	return ret;
}

void fcjson_manifest_free(struct manifest *m)
{
	int i;

	for (i = 0; m->chunks && i < m->nart; i++)
		chunk_list_free(&m->chunks[i]);
	free(m->chunks);
	m->chunks = NULL;
	free(m->arts);
	free(m->vm_config);
	m->arts = NULL;
	m->vm_config = NULL;
	m->nart = 0;
}

/* ---- `ctr containers info` ---- */

/* A string value (or absent) into dst; -1 if not a string or too long. */
static int ctr_str(json_t *o, const char *key, char *dst, size_t size, struct sk_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_string(v))
		return sk_err_set(err, SK_EFAIL, "'%s' is not a string", key);
	if (json_string_length(v) >= size)
		return sk_err_set(err, SK_EFAIL, "'%s' is too long", key);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int fcjson_ctr_container(const char *text, size_t len, struct ctrd_container *out,
			 struct sk_err *err)
{
	json_error_t je;
	json_t *root, *labels, *v;
	const char *key;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	/* Without JSON_ALLOW_NUL jansson refuses \u0000 in strings. */
	root = json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(root)) {
		sk_err_set(err, SK_EFAIL, "%s", root ? "not a JSON object" : je.text);
		goto out;
	}
	if (ctr_str(root, "SnapshotKey", out->snapshot_key, sizeof(out->snapshot_key), err) < 0 ||
	    ctr_str(root, "Snapshotter", out->snapshotter, sizeof(out->snapshotter), err) < 0)
		goto out;
	labels = json_object_get(root, "Labels");
	if (labels && !json_is_null(labels)) {
		if (!json_is_object(labels)) {
			sk_err_set(err, SK_EFAIL, "'Labels' is not an object");
			goto out;
		}
		json_object_foreach(labels, key, v) {
			if (!json_is_string(v)) {
				sk_err_set(err, SK_EFAIL, "label '%s' is not a string", key);
				goto out;
			}
		}
		if (ctr_str(labels, CTRD_LABEL_LOG_URI, out->log_uri, sizeof(out->log_uri), err) <
			0 ||
		    ctr_str(labels, "io.containerd.image.config.stop-signal", out->stop_signal,
			    sizeof(out->stop_signal), err) < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* ---- result builder ---- */

struct fcjson *fcjson_obj(void)
{
	return (struct fcjson *)json_object();
}

struct fcjson *fcjson_arr(void)
{
	return (struct fcjson *)json_array();
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp < 0xe000))
		return 0;
	return len;
}

/*
 * A JSON string for bytes that may not be UTF-8 (paths may hold any byte):
 * valid UTF-8 is kept, every other byte b becomes the character U+00bb
 * (read as Latin-1), so the output is always valid JSON and a name in
 * UTF-8 is printed unchanged.
 */
static json_t *str_any(const char *val)
{
	const unsigned char *s = (const unsigned char *)val;
	size_t n = strlen(val), i = 0, o = 0, len;
	json_t *j;
	char *tmp;

	j = json_stringn(val, n);
	if (j)
		return j;
	tmp = malloc(2 * n + 1);
	if (!tmp)
		return NULL;
	while (i < n) {
		len = utf8_seq(s + i, n - i);
		if (len) {
			memcpy(tmp + o, s + i, len);
			o += len, i += len;
		} else {
			tmp[o++] = (char)(0xc0 | s[i] >> 6);
			tmp[o++] = (char)(0x80 | (s[i] & 0x3f));
			i++;
		}
	}
	j = json_stringn(tmp, o);
	free(tmp);
	return j;
}

void fcjson_set_str(struct fcjson *o, const char *key, const char *val)
{
	json_object_set_new((json_t *)o, key, val ? str_any(val) : json_null());
}

struct fcjson *fcjson_str(const char *val)
{
	return (struct fcjson *)(val ? str_any(val) : json_null());
}

void fcjson_set_int(struct fcjson *o, const char *key, int64_t val)
{
	json_object_set_new((json_t *)o, key, json_integer(val));
}

void fcjson_set_real(struct fcjson *o, const char *key, double val)
{
	json_object_set_new((json_t *)o, key, json_real(val));
}

void fcjson_set_time(struct fcjson *o, const char *key, int64_t t)
{
	char ek[128], when[32];
	time_t tt = (time_t)t;
	struct tm tm;

	snprintf(ek, sizeof(ek), "%s_epoch", key);
	if (!t || !gmtime_r(&tt, &tm)) {
		json_object_set_new((json_t *)o, key, json_null());
		json_object_set_new((json_t *)o, ek, json_null());
		return;
	}
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new((json_t *)o, key, json_string(when));
	json_object_set_new((json_t *)o, ek, json_integer(t));
}

void fcjson_set_ms(struct fcjson *o, const char *key, double ms)
{
	double us = ms * 1000.0;
	int64_t r = us < 0 ? -(int64_t)(-us + 0.5) : (int64_t)(us + 0.5);

	json_object_set_new((json_t *)o, key, json_real((double)r / 1000.0));
}

void fcjson_set_bool(struct fcjson *o, const char *key, int val)
{
	json_object_set_new((json_t *)o, key, json_boolean(val));
}

void fcjson_set(struct fcjson *o, const char *key, struct fcjson *child)
{
	json_object_set_new((json_t *)o, key, (json_t *)child);
}

void fcjson_append(struct fcjson *a, struct fcjson *child)
{
	json_array_append_new((json_t *)a, (json_t *)child);
}

int fcjson_print(FILE *f, struct fcjson *v)
{
	/* 15 digits: a value of 3 decimals prints as such, not 40.564999999999998 */
	int rc = json_dumpf((json_t *)v, f,
			    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));

	json_decref((json_t *)v);
	if (rc < 0 || fputc('\n', f) == EOF)
		return -1;
	return 0;
}

int fcjson_print_line(FILE *f, struct fcjson *v)
{
	int rc = json_dumpf((json_t *)v, f,
			    JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));

	json_decref((json_t *)v);
	if (rc < 0 || fputc('\n', f) == EOF)
		return -1;
	return 0;
}

void fcjson_free(struct fcjson *v)
{
	json_decref((json_t *)v);
}

struct fcjson *fcjson_from_text(const char *text)
{
	return (struct fcjson *)json_loads(text, JSON_REJECT_DUPLICATES, NULL);
}

char *fcjson_store_marker(int version)
{
	json_t *o = json_pack("{s:i, s:s}", "statekit_store", version, "chunks", "sha256/zstd");

	return o ? dump(o) : NULL;
}

int fcjson_store_marker_parse(const char *text, int *version, struct sk_err *err)
{
	json_t *root = json_loads(text, 0, NULL);
	json_t *v = json_object_get(root, "statekit_store");
	int ret = 0;

	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
		ret = sk_err_set(err, SK_EDAMAGED, "not a statekit store marker");
	else
		*version = (int)json_integer_value(v);
	json_decref(root);
	return ret;
}

char *fcjson_lock_body(const char *host, long pid, const char *op, int exclusive, int64_t t)
{
	json_t *o =
	    json_pack("{s:s, s:I, s:s, s:b, s:I}", "host", host, "pid", (json_int_t)pid,
		      "operation", op, "exclusive", exclusive, "created_epoch", (json_int_t)t);

	return o ? dump(o) : NULL;
}

static int presign_url(json_t *v, char **out, const char *what, struct sk_err *err)
{
	const char *u = json_string_value(v);

	if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) || strlen(u) > 16384)
		return sk_err_set(err, SK_EUSAGE, "%s: \"url\" must be an http(s) URL", what);
	*out = strdup(u);
	return *out ? 0 : sk_err_set(err, SK_EFAIL, "out of memory");
}

static int presign_parts(json_t *parts, struct presign_art *a, struct sk_err *err)
{
	size_t i;
	json_t *e;

	if (!json_is_array(parts) || json_array_size(parts) == 0 || json_array_size(parts) > 10000)
		return sk_err_set(err, SK_EUSAGE,
				  "artifact '%s': \"parts\" must list 1 to 10000 parts", a->name);
	a->parts = calloc(json_array_size(parts), sizeof(*a->parts));
	if (!a->parts)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	json_array_foreach(parts, i, e) {
		json_t *n = json_object_get(e, "part_number");
		char what[128];

		snprintf(what, sizeof(what), "artifact '%s' part %zu", a->name, i + 1);
		if (!json_is_integer(n) || json_integer_value(n) != (json_int_t)i + 1)
			return sk_err_set(err, SK_EUSAGE,
					  "%s: part numbers must run 1, 2, 3, ... in order", what);
		a->parts[i].number = (int)i + 1;
		a->nparts++;
		if (presign_url(json_object_get(e, "url"), &a->parts[i].url, what, err) < 0)
			return -1;
	}
	return 0;
}

static int presign_art(json_t *e, int pull, struct presign_art *a, struct sk_err *err)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	json_t *ps = json_object_get(e, "part_size");

	if (!name || !fcjson_safe_name(name))
		return sk_err_set(err, SK_EUSAGE, "an artifact without a valid \"name\"");
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (pull)
		return presign_url(json_object_get(e, "url"), &a->url, a->name, err);
	if (!json_is_integer(ps) || json_integer_value(ps) < 1 ||
	    json_integer_value(ps) > (json_int_t)5 << 30)
		return sk_err_set(err, SK_EUSAGE,
				  "artifact '%s': \"part_size\" must be 1 byte to 5 GiB", a->name);
	a->part_size = (uint64_t)json_integer_value(ps);
	return presign_parts(json_object_get(e, "parts"), a, err);
}

int fcjson_presign_parse(const char *text, int pull, struct presign *p, struct sk_err *err)
{
	json_error_t je;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je), *arts, *e;
	size_t i, k;
	int ret = -1;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(root)) {
		sk_err_set(err, SK_EUSAGE, "not a JSON object (line %d: %s)", je.line, je.text);
		goto out;
	}
	arts = json_object_get(root, "artifacts");
	if (!json_is_array(arts) || json_array_size(arts) == 0 || json_array_size(arts) > 256) {
		sk_err_set(err, SK_EUSAGE, "\"artifacts\" must be a list of 1 to 256 artifacts");
		goto out;
	}
	if (pull) {
		json_t *m = json_object_get(root, "manifest");

		if (!json_is_object(m)) {
			sk_err_set(err, SK_EUSAGE, "\"manifest\" must be the snapshot's manifest");
			goto out;
		}
		p->manifest = json_dumps(m, JSON_PRESERVE_ORDER | JSON_INDENT(2));
		if (!p->manifest) {
			sk_err_set(err, SK_EFAIL, "out of memory");
			goto out;
		}
	}
	p->arts = calloc(json_array_size(arts), sizeof(*p->arts));
	if (!p->arts) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	json_array_foreach(arts, i, e) {
		p->nart++;
		if (presign_art(e, pull, &p->arts[i], err) < 0)
			goto out;
		for (k = 0; k < i; k++)
			if (!strcmp(p->arts[k].name, p->arts[i].name)) {
				sk_err_set(err, SK_EUSAGE, "artifact '%s' is listed twice",
					   p->arts[i].name);
				goto out;
			}
	}
	ret = 0;
out:
	json_decref(root);
	if (ret < 0)
		fcjson_presign_free(p);
	return ret;
}

void fcjson_presign_free(struct presign *p)
{
	int i, k;

	for (i = 0; p->arts && i < p->nart; i++) {
		for (k = 0; k < p->arts[i].nparts; k++)
			free(p->arts[i].parts[k].url);
		free(p->arts[i].parts);
		free(p->arts[i].url);
	}
	free(p->arts);
	free(p->manifest);
	memset(p, 0, sizeof(*p));
}
