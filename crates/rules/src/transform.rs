//! InputPath and InputTransformer (in progress).
