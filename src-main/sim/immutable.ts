/**
 * A mark for classes whose instances never change once built (write-attribution tags, say): copies of the kernel
 * graph (lab/checkpoint.ts cloneGraph) share them instead of copying them, as they share frozen objects. Cheaper than
 * Object.freeze on the step path, which V8 makes cost hundreds of nanoseconds per object.
 *
 * Put it on the prototype: `Klass.prototype[IMMUTABLE] = true` (see hw/attribution.ts StepTag).
 */
export const IMMUTABLE: unique symbol = Symbol('svalab.immutable');

/** Whether `v` is frozen or an instance of an IMMUTABLE-marked class: shared, never copied. */
export function isShareable(v: object): boolean {
  return (v as { [IMMUTABLE]?: boolean })[IMMUTABLE] === true || Object.isFrozen(v);
}
