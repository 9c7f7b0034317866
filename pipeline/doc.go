// Package pipeline turns shard records into Arrow record batches of paired
// views for self-supervised training, and defines the Arrow contract those
// batches follow.
//
// What is here today is the contract (SCHEMA.md, version 1):
//
//   - the schema of every pair kind (NewSchema, ParseSchema, Layout), with
//     image columns of the Arrow canonical extension type
//     arrow.fixed_shape_tensor (FixedShapeTensorType, registered with arrow-go
//     when the package loads, since arrow-go v18 does not ship it) and one
//     augmentation struct column per augmented image, filled from ops.Params;
//   - BatchBuilder, which fills a batch in place from the workers' buffers and
//     hands it over as an arrow.RecordBatch, and zero-copy readers for
//     consumers (Tensors, ReadParams);
//   - the IPC stream format: WriteIPC / IPCWriter and ReadIPC, which refuses a
//     schema version it does not know (ErrSchemaVersion) and checks untrusted
//     streams (framing, flatbuffer metadata, buffer sizes) before arrow-go
//     decodes them (ErrCorrupt).
//
// The goroutine stages (read, decode, augment, pair, assemble, emit), their
// configuration, resume state and statistics are to come in this package.
// It is not a general Arrow toolkit: it writes and reads pairflow's schema
// only.
//
// Ownership follows arrow-go: whoever creates or Retains a record batch
// Releases it. A batch returned by BatchBuilder.NewRecordBatch belongs to the
// caller; a batch that crosses goroutines is Retained by the sender and
// Released by the receiver; WriteIPC Releases the batches it is handed; a
// batch from IPCReader is borrowed until the next read.
package pipeline
