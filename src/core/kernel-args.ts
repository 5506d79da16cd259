// Kernel arguments that reach a bootloader: the bootloader method's GRUB entry, and the
// new system's /etc/default/grub (sourced by sh, then pasted unquoted into grub.cfg by
// grub-mkconfig). A quote, "$" or ";" means something to GRUB's script and to sh, so only
// words made of letters, digits and _ . , : / = @ + % ~ - are written there.

export const KERNEL_ARG = /^[A-Za-z0-9_.,:/=@+%~-]+$/;
/** The same rule for a whole command line (words separated by spaces), as a schema pattern. */
export const KERNEL_ARGS_PATTERN = '^[A-Za-z0-9_.,:/=@+%~ -]*$';
export const KERNEL_ARGS_HINT =
  'Kernel arguments may use letters, digits and _ . , : / = @ + % ~ - separated by spaces: they are written into GRUB\'s configuration, where quotes, $, ; and the like have meanings of their own.';

// Consoles, and the interface naming scheme: the new system should name NICs as the old one did.
const CARRIED = /^(console|earlyprintk|earlycon|net\.ifnames|biosdevname)=/;

const words = (cmdline: string) => cmdline.split(/\s+/).filter(Boolean);

/** The arguments of a command line that travel on: to the deploy kernel, then to the new system's bootloader. */
export function carriedKernelArgs(cmdline: string): string[] {
  return words(cmdline).filter((a) => CARRIED.test(a) && KERNEL_ARG.test(a));
}

/** Arguments that would travel on but cannot be written safely into a bootloader's configuration. */
export function droppedKernelArgs(cmdline: string): string[] {
  return words(cmdline).filter((a) => CARRIED.test(a) && !KERNEL_ARG.test(a));
}

/** One word for GRUB's script parser: as is when it is plain, else in single quotes (GRUB reads '\'' as sh does). */
export function grubWord(word: string): string {
  return /^[A-Za-z0-9_.,:/=@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
