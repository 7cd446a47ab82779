// OCA's prettier settings for Odoo >= 18 (XML only here, see .pre-commit-config.yaml).
// The plugin is resolved with require.resolve: pre-commit installs it in its own node
// environment (NODE_PATH), where prettier's own import() would not look.
// "preserve": text nodes keep their exact whitespace (QWeb reports, mail templates).
/** @type {import('prettier').Config} */
const config = {
  plugins: [require.resolve("@prettier/plugin-xml")],
  bracketSpacing: false,
  printWidth: 88,
  proseWrap: "always",
  semi: true,
  trailingComma: "es5",
  xmlWhitespaceSensitivity: "preserve",
};

module.exports = config;
