// Package arrowpair is pairflow's Arrow contract (SCHEMA.md, version 1): the
// one place that knows how a batch of paired views is laid out in Arrow.
//
//   - the schema of every pair kind (NewSchema, ParseSchema, Layout), with
//     image columns of the Arrow canonical extension type
//     arrow.fixed_shape_tensor (FixedShapeTensorType, registered with arrow-go
//     when the package loads, since arrow-go v18 does not ship it) and one
//     augmentation struct column per augmented image, filled from ops.Params;
//   - BatchBuilder, which fills a batch in place — producers write tensors
//     straight into batch memory, possibly reserved ahead of the rows'
//     metadata (ReserveRows, Adopt) — hands it over as an arrow.RecordBatch
//     and reuses the image memory of released batches (KeepBatches);
//   - zero-copy readers for consumers: ReadBatch, a typed view of a batch
//     (sample ids, labels, keys, epochs, classes, and image and augmentation
//     columns by name), and the column readers under it (Tensors,
//     TensorsByName, ReadParams);
//   - the IPC stream format: WriteIPC / IPCWriter and ReadIPC, which refuses a
//     schema version it does not know (ErrSchemaVersion) and checks untrusted
//     streams (framing, flatbuffer metadata, buffer sizes) before arrow-go
//     decodes them (ErrCorrupt).
//
// It is not a general Arrow toolkit: it writes and reads pairflow's schema
// only. It does not produce batches from images; package pipeline does, and
// consumers (trainers, the Python client, other languages) need only this
// package or SCHEMA.md.
//
// Ownership follows arrow-go: whoever creates or Retains a record batch
// Releases it. A batch returned by BatchBuilder.NewRecordBatch belongs to the
// caller; a batch that crosses goroutines is Retained by the sender and
// Released by the receiver; WriteIPC Releases the batches it is handed; a
// batch from IPCReader is borrowed until the next read.
package arrowpair
