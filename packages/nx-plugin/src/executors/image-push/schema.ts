// The `image-push` executor's options (schema.json describes each one).

export interface ImagePushExecutorOptions {
  outputPath?: string;
  tags?: string[];
  store?: string;
  insecureRegistries?: string[];
}
