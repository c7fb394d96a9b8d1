export const helper = 'test';
