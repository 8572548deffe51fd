//! Shared helpers of the project-wide integration tests.
