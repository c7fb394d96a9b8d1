export const step = 'remediation';
