"""Everything that exercises the product and is not the product: embedded broker, demo,
personas, log replay, offline runs, evaluation, chaos, audit, bench. The worker never imports it."""
