// The `image-push` executor's options (schema.json describes each one).

export interface ImagePushExecutorOptions {
  imageTarget?: string;
  outputPath?: string;
  tags?: string[];
  registry?: string;
  store?: string;
  insecureRegistries?: string[];
  compression?: 'none' | 'gzip';
}
