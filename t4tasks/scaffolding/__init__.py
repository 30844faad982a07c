"""Writing files for the user: scaffolded docs and tests, init, new modules, CI workflows."""
