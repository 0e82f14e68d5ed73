# The two commands of the README. Both install what they need first.
.PHONY: example test bench pack
example:
	bash scripts/example.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/setup.sh --with-python && pnpm exec turbo run build --output-logs=errors-only && node bench/run.mjs
# npm tarballs and Python wheels in dist/ for a project outside this repository (README: "Install Baton…").
pack:
	bash scripts/pack.sh
