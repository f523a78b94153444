"""Running the generated project: the sandbox, the checks and who owns a failure, the verdict, references between modules and the near-miss repairs."""
