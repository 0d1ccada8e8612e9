"""The `fluence-dao` command line. Commands parse, call one library function, and render."""
