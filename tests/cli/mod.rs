//! The `vodsign` binary's command line.

mod offline_commands;
