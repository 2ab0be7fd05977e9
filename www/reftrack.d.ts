// TypeScript declarations for the reftrack snippet (window.reftrack).

/** The visitor's referral, as the snippet knows it. */
export interface Affiliate {
  partner: string | null;
  subId: string | null;
  clickId: string | null;
  /** RFC 3339 UTC. */
  expiresAt: string;
}

/** reftrack.lead() options. */
export interface LeadOptions {
  email?: string;
}

/**
 * reftrack.conversion() options. Give amountMinor (whole minor units: cents) or amount (major
 * units: a string is read exactly, "19.99"; a number to three decimals).
 */
export interface ConversionOptions {
  orderId: string;
  amountMinor?: number | string;
  amount?: number | string;
  currency: string;
}

/** window.reftrack: every method returns a Promise that resolves (never rejects). */
export interface Reftrack {
  (method: "affiliate"): Promise<Affiliate | null>;
  (method: "lead", options: LeadOptions): Promise<boolean>;
  (method: "conversion", options: ConversionOptions): Promise<boolean>;
  (method: "decorate", url: string): Promise<string>;
  (method: "consent", granted: boolean): Promise<boolean>;
  affiliate(): Promise<Affiliate | null>;
  lead(options: LeadOptions): Promise<boolean>;
  conversion(options: ConversionOptions): Promise<boolean>;
  /** The URL carrying the click where its tool or cart takes it (else as rt_click); unchanged without a click or consent. */
  decorate(url: string): Promise<string>;
  /** true: store, decorate and send as the browser allows (with data-consent="required"); false: forget what was kept. */
  consent(granted: boolean): Promise<boolean>;
  /** Calls queued before the script loaded. */
  q?: unknown[];
}

declare global {
  interface Window {
    reftrack: Reftrack;
  }
}
