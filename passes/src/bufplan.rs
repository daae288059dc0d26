//! Buffer planning (to be written in this branch).
