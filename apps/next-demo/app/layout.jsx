export const metadata = { title: 'sess Next.js demo' };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <head>
        {/* The stylesheet the Express and Koa demos serve, from a route handler. */}
        <link rel="stylesheet" href="/style.css" />
      </head>
      <body>{children}</body>
    </html>
  );
}
