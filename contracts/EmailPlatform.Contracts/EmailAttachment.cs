namespace EmailPlatform.Contracts;

/// <summary>
/// An attachment carried inline in <see cref="SendEmail"/>. <paramref name="ContentId"/> makes it an
/// inline part that HTML can reference with <c>cid:</c>.
/// </summary>
public sealed record EmailAttachment(string Filename, string ContentType, string? ContentId, byte[] Content);
