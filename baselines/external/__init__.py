"""External programs as editing methods: each prediction is one run of a command that exchanges files."""
