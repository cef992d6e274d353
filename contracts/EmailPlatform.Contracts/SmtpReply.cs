namespace EmailPlatform.Contracts;

/// <summary>
/// A relay's answer: the three-digit reply code, the RFC 3463 enhanced status code when the
/// relay sent one (for example <c>5.1.1</c>), and the reply text.
/// </summary>
public sealed record SmtpReply(int Code, string? EnhancedCode, string Text);
