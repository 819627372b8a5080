import { describe, expect, it } from "vitest";
import { bestDistance, detectStuck } from "../../src/loop/stuck.ts";

describe("stuck detection", () => {
  it("is not stuck while the best distance keeps improving", () => {
    expect(detectStuck({ distances: [0.9, 0.8, 0.7, 0.6], families: ["a", "b", "a", "b"], k: 3 }).stuck).toBe(
      false,
    );
  });

  it("is stuck after k iterations without a new best", () => {
    const v = detectStuck({ distances: [0.5, 0.6, 0.7, null], families: ["a", "b", "c", "d"], k: 3 });
    expect(v).toEqual({ stuck: true, reason: "no gain in best gate distance for 3 iterations" });
  });

  it("is stuck when the last k iterations share a family", () => {
    const v = detectStuck({
      distances: [0.9, 0.8, 0.7, 0.6],
      families: ["x", "trend", "trend", "trend"],
      k: 3,
    });
    expect(v).toEqual({ stuck: true, reason: "the last 3 iterations were all trend" });
  });

  it("finds the best distance and where it was set, ignoring crashes", () => {
    expect(bestDistance([null, 0.4, 0.2, null, 0.3])).toEqual({ best: 0.2, at: 3 });
    expect(bestDistance([null])).toEqual({ best: null, at: null });
  });
});
