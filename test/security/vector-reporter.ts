import type { Reporter, TestModule } from "vitest/node";
import { VECTOR } from "./vectors.js";

// Prints "Security vectors: N tried, N held" after a run that included any (test/security/vectors.ts).
export default class VectorReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let tried = 0;
    let held = 0;
    const broken: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (!test.name.startsWith(VECTOR)) continue;
        const state = test.result().state;
        if (state === "skipped" || state === "pending") continue;
        tried++;
        if (state === "passed") held++;
        else broken.push(test.fullName);
      }
    }
    if (tried === 0) return;
    process.stdout.write(`\nSecurity vectors: ${tried} tried, ${held} held${broken.length ? `; NOT held:\n  ${broken.join("\n  ")}` : ""}\n`);
  }
}
