// Starter Dockerfiles written by the configuration generator. The image executor's build context
// defaults to the project root, so paths below are relative to it.

export type DockerfileTemplate = 'node' | 'static';

export interface TemplateFacts {
  projectName: string;
  projectRoot: string;
  /** The project has a package.json (the node template copies it and installs dependencies). */
  hasPackageJson: boolean;
  /** Entry point for the node template, relative to the project root. */
  main: string;
}

function header(facts: TemplateFacts, what: string): string {
  return [
    '# syntax=docker/dockerfile:1',
    `# Starter Dockerfile for ${facts.projectName}, written by @kiln/nx-plugin:configuration: ${what}.`,
    `# Build context: the project root (${facts.projectRoot}). Build it without a Docker daemon:`,
    `#   nx run ${facts.projectName}:image`,
  ].join('\n');
}

export function nodeDockerfile(facts: TemplateFacts): string {
  const lines = [
    header(facts, 'runs the Node.js build output'),
    'FROM node:20-alpine',
    'WORKDIR /app',
    'ENV NODE_ENV=production',
  ];
  if (facts.hasPackageJson) {
    lines.push('COPY package.json ./', 'RUN npm install --omit=dev --no-audit --no-fund');
  }
  lines.push('COPY . .', 'USER node', `CMD ["node", ${JSON.stringify(facts.main)}]`);
  return lines.join('\n') + '\n';
}

export function staticDockerfile(facts: TemplateFacts): string {
  return (
    [
      header(facts, "serves the project's built files with nginx"),
      'FROM nginx:alpine',
      '# Point this at the folder your build target writes (relative to the project root).',
      'COPY dist/ /usr/share/nginx/html/',
      'EXPOSE 80',
    ].join('\n') + '\n'
  );
}

export function dockerfileFor(template: DockerfileTemplate, facts: TemplateFacts): string {
  return template === 'static' ? staticDockerfile(facts) : nodeDockerfile(facts);
}

export function dockerignoreFor(_template: DockerfileTemplate): string {
  return ['.git', 'node_modules', 'npm-debug.log*', '.env*', 'Dockerfile', '.dockerignore'].join('\n') + '\n';
}
