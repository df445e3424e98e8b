def fill(record):
    """before_save: stamp a new or retitled note with the plugin's script function;
    a note titled "#..." counts the notes its author may read (agents only)."""
    if old is None or old["title"] != record.title:
        record.stamped = stamp(record.title)
    if record.title.startswith("#"):
        record.counted = count_notes()
