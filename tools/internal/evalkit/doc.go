// Package evalkit holds what pairflow's evaluation tools share: loading the
// encoder of a pretraining checkpoint (LoadEncoder), the un-augmented
// evaluation view (EvalRecipe), extracting the features of a whole shard
// dataset through the eval pipeline (Features), and the weighted kNN monitor
// of the InstDisc/SimCLR codebases (KNN).
//
// It is internal to pairflow's tools (tools/pretrain's kNN monitor,
// tools/lineval's linear probe and fine-tuning). It is not a training library:
// the linear classifier, fine-tuning loops and reporting live in the tools.
//
// Features run with the encoder's BatchNorm layers in evaluation mode (the
// running statistics), and put the layers back in the mode they were in, so
// a training loop may call it between steps. KNN is deterministic: the same
// features give the same accuracy whatever the thread count.
package evalkit
