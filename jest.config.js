// Tests are compiled by tsc with the rest of the tree (so they are type-checked) and run from dist/.
const common = { testEnvironment: 'node', rootDir: 'dist', moduleFileExtensions: ['js'] };

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/*.test.js'], testPathIgnorePatterns: ['/test/integration/'] },
    { ...common, displayName: 'integration', testMatch: ['**/test/integration/**/*.test.js'] },
  ],
};
