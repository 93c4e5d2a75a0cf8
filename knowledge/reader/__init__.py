"""The readers: pasted error text (`error_text`) and pasted command output (`command_output`) into facts."""
