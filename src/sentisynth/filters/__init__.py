"""Quality filters for synthetic records: teacher, perplexity, diversity, length, contamination.

Each filter is fitted on the real seed set only and splits records into kept and rejected (with
the filter's name, score, threshold and reason); :class:`~sentisynth.filters.base.FilterChain`
runs several in order and counts what each one saw and rejected per label.
"""
