//! E-graph rewriting (in progress).
