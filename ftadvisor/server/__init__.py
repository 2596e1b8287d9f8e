"""``ftadvisor serve``: the local backend behind OpenAI's HTTP API (files, fine-tuning jobs, models, chat), so
that code written for OpenAI keeps working with a different ``base_url``. Needs the ``server`` extra."""
