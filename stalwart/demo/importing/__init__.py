"""Contact imports: a CSV upload, checked at once, validated in chunk tasks, merged whole.

- :mod:`.csvfile`   decoding and splitting the upload (refusals are the API's 422)
- :mod:`.rows`      one row -> a contact or a line-numbered error (``phonenumbers``)
- :mod:`.jobs`      the import's life: start, one chunk, the final merge, its status
"""
