/**
 * The problem lines a settings parser reports: runs `run`, which must throw an instance of `errorClass`
 * (SettingsError, ConfigError: errors that carry every bad key as `problems`), and returns them. Any other
 * error is rethrown; throwing nothing fails the test.
 */
export function thrownProblems(run: () => unknown, errorClass: abstract new (...args: never[]) => Error & { problems: readonly string[] }): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof errorClass) return [...error.problems];
    throw error;
  }
  throw new Error(`expected a ${errorClass.name}, but the input was accepted`);
}
