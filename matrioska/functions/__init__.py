"""Nested dolls (issue 35): a code module written function by function.

A code module gets a function plan (`spec`: each function's signature, purpose, examples and the
dependency functions it may call, `plan` asks for it under a JSON schema); each function is
written alone with K candidates whose first line a grammar fixes (`write`); the candidates run
against their examples in the sandbox and the first passing one is kept, an example every
candidate contradicts the same way is suspect (`trial`); the module's files are then assembled
without the model (`assemble`, `entry`, `wiring`), and a later failure is traced to the function
it happened in and only that function is asked again (`localise`). `module` drives it for one
module; the whole-module path stays for what is not code and as the fallback.
"""
