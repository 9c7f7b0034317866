// Package store reads and writes the objects of a dataset wherever it
// lives: a local directory, an S3 bucket (s3://bucket/prefix, through
// minio-go, any S3-compatible endpoint) or a web server (https:// range
// GETs, for public and presigned URLs; read only). It adds what remote
// storage needs around each backend: retries with capped exponential
// backoff and full jitter on throttling, 5xx, resets, stalls and short
// bodies; a cap on concurrent requests per host; resumed downloads; and a
// local, content-addressed, multi-process-safe Cache of verified objects
// with least-recently-used eviction.
//
//	s, err := store.Open("s3://bucket/datasets/train", store.Options{})
//	c, err := store.OpenCache(dir, 50<<30)
//	path, fetched, err := c.Get(ctx, s, "train-00000.pfs", size, sha256hex)
//
// Configuration follows the AWS conventions (see Options): AWS_ENDPOINT_URL,
// AWS_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
// and the shared credentials file.
//
// This package knows nothing of shard files: package shards uses it (and
// checks what it reads with the record CRCs and the manifest's SHA-256 sums);
// it never imports shards.
package store
