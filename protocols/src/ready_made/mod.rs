//! Ready-made protocols.
