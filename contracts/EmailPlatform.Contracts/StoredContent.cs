namespace EmailPlatform.Contracts;

/// <summary>
/// Where the content of an email too large for the bus is kept instead (the claim-check pattern): the ingress writes it
/// to the store's <c>email_contents</c> table, keyed by <paramref name="Key"/>, in the transaction that accepts the
/// email, so that broker messages stay small however large the email. <paramref name="Size"/> is the content's size in
/// bytes as the ingress measured it (bodies in UTF-8, attachments and raw messages decoded).
/// </summary>
public sealed record StoredContent(Guid Key, long Size);
