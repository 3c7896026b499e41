"""The most the importers accept from one file, so a hostile or broken file is refused with a
one-line error instead of exhausting memory or the stack.

- `MAX_FILE_BYTES`: a corpus file over 200 MB is refused before it is read (split it). Checked on
  the file's size first and again on what is read, so a file that grows or is not a regular file
  is bounded too. An IDX image file may hold as many pixel bytes once decompressed.
- `MAX_IDX_IMAGES`: an IDX file declaring over 1,000,000 images is refused before its pixels are
  read (MNIST has 70,000, EMNIST 814,255); each image becomes a file, so tiny images are no excuse.
- `MAX_TWEET_CHARS`: a post over 50,000 characters (as read, before cleaning) is refused, never
  truncated. X's long posts allow 25,000; twice that leaves room for the `&amp;` entities and full
  links (X counts a link as 23) in the raw text, and anything longer is not a post. CSV fields
  are held to the same limit while parsing.
- `MAX_JSON_DEPTH`: tweets nest fewer than 10 levels; JSON nested too deeply for the parser is
  refused, naming where it passes 100 levels.
- `MAX_RECORD_CHARS`: files are read as a stream, one record at a time, so memory stays bounded
  whatever the file's size; a record (a JSON tweet object, a CSV row, a line) may take 4,000,000
  characters, enough for a 50,000-character tweet written as JSON escapes (12 characters for an
  emoji) with its other fields. A longer one is refused when the next chunk (1 MiB) would be
  read for it.
- `MAX_IMAGE_PIXELS`: an image over 64 megapixels (above any common camera's 48-50 MP full
  resolution; 192 MB decoded as RGB) is skipped, with the reason, before it is decoded.
"""

from __future__ import annotations

MAX_FILE_BYTES = 200_000_000
MAX_TWEET_CHARS = 50_000
MAX_IDX_IMAGES = 1_000_000
MAX_JSON_DEPTH = 100
MAX_RECORD_CHARS = 4_000_000
MAX_IMAGE_PIXELS = 64_000_000
