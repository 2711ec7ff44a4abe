/*
 * chunkbench: time statekit's chunked digest of files at a given chunk size,
 * the way fcsnap-verify computes it (chunk_hash_many, every core), and the
 * whole-file sha256 of manifest format 1 (hash_many). Built and run by
 * bench/fcdiff-bench.sh; not installed.
 *
 * Usage: chunkbench CHUNK_BYTES FILE...   (CHUNK_BYTES 0: whole-file sha256)
 * Prints: seconds, data chunks (chunks that are not zero), and chunks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hash.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long cs;
	size_t n, i, k, data = 0, all = 0;
	double t0;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: chunkbench CHUNK_BYTES FILE...\n");
		return 2;
	}
	cs = strtoul(argv[1], NULL, 0);
	n = (size_t)argc - 2;
	t0 = now();
	if (cs == 0) {
		struct hash_job *jobs = calloc(n, sizeof(*jobs));

		for (i = 0; i < n; i++)
			jobs[i].path = argv[i + 2];
		rc = hash_many(jobs, n, 0, NULL);
		printf("%.3f 0 0\n", now() - t0);
		free(jobs);
		return rc < 0;
	}
	{
		struct chunk_job *jobs = calloc(n, sizeof(*jobs));

		for (i = 0; i < n; i++)
			jobs[i].path = argv[i + 2];
		rc = chunk_hash_many(jobs, n, (uint32_t)cs, 0, NULL);
		t0 = now() - t0;
		for (i = 0; i < n && rc == 0; i++)
			for (k = 0; k < jobs[i].chunks.n; k++) {
				all++;
				data += !chunk_is_zero(&jobs[i].chunks, k, jobs[i].size);
			}
		printf("%.3f %zu %zu\n", t0, data, all);
		for (i = 0; i < n; i++)
			chunk_list_free(&jobs[i].chunks);
		free(jobs);
	}
	return rc < 0;
}
