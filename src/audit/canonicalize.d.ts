// canonicalize@2.1.0 ships `export default` typings, but its JavaScript is `module.exports = serialize`.
// Under NodeNext that typing makes the default import look like `{ default }` and "not callable";
// this ambient declaration states what the module really exports.
declare module 'canonicalize' {
  function canonicalize(input: unknown): string | undefined;
  export = canonicalize;
}
