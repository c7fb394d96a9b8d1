export const tool = 'bench';
